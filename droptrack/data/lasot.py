"""LaSOT and LaSOT-extension reader: root/<class>/<class>-<n>/{img/%08d.jpg, groundtruth.txt, full_occlusion.txt,
out_of_view.txt}; a flat root/<class>-<n>/ (e.g. an extracted LaSOTTesting folder) is accepted too."""

from __future__ import annotations

from pathlib import Path

from droptrack.data.labels import load_boxes, load_flags
from droptrack.data.sequence import Sequence, no_sequences, numbered_frames, one_folder_down, select
from droptrack.errors import DatasetError

# The official 280-sequence test split (LaSOT protocol II): 70 classes x 4 sequence numbers, in the order of
# pytracking's and OSTrack's LaSOT list, which they track and report in (not alphabetical: spider follows cattle,
# drone-13 comes before drone-2).
_TEST_NUMBERS: dict[str, tuple[int, ...]] = {
    "airplane": (1, 9, 13, 15), "basketball": (1, 6, 7, 11), "bear": (2, 4, 6, 17), "bicycle": (2, 7, 9, 18),
    "bird": (2, 3, 15, 17), "boat": (3, 4, 12, 17), "book": (3, 10, 11, 19), "bottle": (1, 12, 14, 18),
    "bus": (2, 5, 17, 19), "car": (2, 6, 9, 17), "cat": (1, 3, 18, 20), "cattle": (2, 7, 12, 13),
    "spider": (14, 16, 18, 20), "coin": (3, 6, 7, 18), "crab": (3, 6, 12, 18), "surfboard": (12, 4, 5, 8),
    "cup": (1, 4, 7, 17), "deer": (4, 8, 10, 14), "dog": (1, 7, 15, 19), "guitar": (3, 8, 10, 16),
    "person": (1, 5, 10, 12), "pig": (2, 10, 13, 18), "rubicCube": (1, 6, 14, 19), "swing": (10, 14, 17, 20),
    "drone": (13, 15, 2, 7), "pool": (12, 15, 3, 7), "rabbit": (10, 13, 17, 19), "racing": (10, 15, 16, 20),
    "robot": (1, 19, 5, 8), "sepia": (13, 16, 6, 8), "sheep": (3, 5, 7, 9), "skateboard": (16, 19, 3, 8),
    "tank": (14, 16, 6, 9), "tiger": (12, 18, 4, 6), "train": (1, 11, 20, 7), "truck": (16, 3, 6, 7),
    "turtle": (16, 5, 8, 9), "umbrella": (17, 19, 2, 9), "yoyo": (15, 17, 19, 7), "zebra": (10, 14, 16, 17),
    "elephant": (1, 12, 16, 18), "goldfish": (3, 7, 8, 10), "hat": (1, 2, 5, 18), "kite": (4, 6, 10, 15),
    "motorcycle": (1, 3, 9, 18), "mouse": (1, 8, 9, 17), "flag": (3, 9, 5, 2), "frog": (3, 4, 20, 9),
    "gametarget": (1, 2, 7, 13), "hand": (2, 3, 9, 16), "helmet": (5, 11, 19, 13), "licenseplate": (6, 12, 13, 15),
    "electricfan": (1, 10, 18, 20), "chameleon": (3, 6, 11, 20), "crocodile": (3, 4, 10, 14),
    "gecko": (1, 5, 16, 19), "fox": (2, 3, 5, 20), "giraffe": (2, 10, 13, 15), "gorilla": (4, 6, 9, 13),
    "hippo": (1, 7, 9, 20), "horse": (1, 4, 12, 15), "kangaroo": (2, 5, 11, 14), "leopard": (1, 7, 16, 20),
    "lion": (1, 5, 12, 20), "lizard": (1, 3, 6, 13), "microphone": (2, 6, 14, 16), "monkey": (3, 4, 9, 17),
    "shark": (2, 3, 5, 6), "squirrel": (8, 11, 13, 19), "volleyball": (1, 13, 18, 19),
}


def test_names() -> list[str]:
    """The 280 official LaSOT test sequence names, in the official list's order."""
    return [f"{cls}-{n}" for cls, nums in _TEST_NUMBERS.items() for n in nums]


def is_train_name(name: str) -> bool:
    """One of the 1120 sequences of the official train split (pytracking's lasot_train_split.txt): <class>-<n> of
    LaSOT's 70 classes, n = 1..20, not in the test split. LaSOT-extension's sequences (atv-1, ...) are not."""
    cls, _, n = name.rpartition("-")
    return cls in _TEST_NUMBERS and n.isdigit() and str(int(n)) == n and 1 <= int(n) <= 20 \
        and int(n) not in _TEST_NUMBERS[cls]


def left_out_of_train(root: Path) -> str:
    """What the train split leaves out of the sequences under `root`, in words ('' when nothing): those of the test
    split (the official recipe trains on the other 1120 only) and those that are no sequence of LaSOT's (one's own
    footage under a LaSOT-style name, LaSOT-extension's atv-1)."""
    present = present_names(root) if Path(root).is_dir() else []
    test = set(test_names())
    tested = [nm for nm in present if nm in test]
    other = [nm for nm in present if nm not in test and not is_train_name(nm)]
    if not tested and not other:
        return ""

    def few(names: list[str]) -> str:
        return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")

    why = ([f"{len(tested)} in LaSOT's 280-sequence test split ({few(tested)}), which the official recipe leaves out "
            "of training"] if tested else []) + \
        ([f"{len(other)} not in LaSOT's train split ({few(other)}; it is the <class>-N of LaSOT's 70 classes, N = "
          "1..20)"] if other else [])
    return (f"{len(tested) + len(other)} of the {len(present)} sequences under {root} are left out: "
            + "; ".join(why) + "; one's own sequences train as SYNTH (GOT-10k's layout)")


def _seq_dir(root: Path, name: str) -> Path:
    """root/<class>/<name>, else root/<name>."""
    cls = name.rsplit("-", 1)[0]
    nested = root / cls / name
    return nested if nested.is_dir() or not (root / name).is_dir() else root / name


def _is_sequence(folder: Path) -> bool:
    """A sequence folder: groundtruth.txt or img/ in it (one missing its groundtruth.txt is read, and refused naming
    the file, rather than silently left out of the scores)."""
    return (folder / "groundtruth.txt").is_file() or (folder / "img").is_dir()


def _listed_dirs(folder: Path) -> list[Path]:
    """Sub-folders, sorted, without hidden ones and the __MACOSX folder a zip made on macOS unpacks (it mirrors the
    sequence folders, img/ included, so every sequence was found twice)."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX")))


def present_names(root: Path) -> list[str]:
    """Every sequence folder under root (nested <class>/<class>-<n> or flat <class>-<n>), sorted."""
    out = []
    for d in _listed_dirs(root):
        if _is_sequence(d):
            out.append(d.name)
        else:
            out.extend(s.name for s in _listed_dirs(d) if _is_sequence(s))
    return out


def _check_present(root: Path, chosen: list[str]) -> None:
    """Every chosen test sequence has its folder, else one line naming how many, which (the first 5) and the class
    archives to extract, before any is read (it was the first missing one, after reading those before it)."""
    missing = [nm for nm in chosen if not _seq_dir(root, nm).is_dir()]
    if missing:
        some = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        classes = sorted({nm.rsplit("-", 1)[0] for nm in missing})
        raise DatasetError(f"{len(missing)} of the {len(chosen)} LaSOT test sequences "
                           f"{'is' if len(missing) == 1 else 'are'} not under {root} ({some}); "
                           f"extract the class archive{'s' if len(classes) > 1 else ''} "
                           f"{', '.join(classes[:5]) + (', ...' if len(classes) > 5 else '')} there")


def read_sequence(folder: Path, dataset: str = "lasot") -> Sequence:
    """One LaSOT sequence; visible = not full_occlusion and not out_of_view."""
    if not folder.is_dir():
        raise DatasetError(f"LaSOT sequence folder {folder} is missing; extract its class archive under the root")
    gt = load_boxes(folder / "groundtruth.txt")
    n = len(gt)
    occ = load_flags(folder / "full_occlusion.txt", n)
    oov = load_flags(folder / "out_of_view.txt", n)
    return Sequence(name=folder.name, dataset=dataset, frames=numbered_frames(folder / "img", 1, n, 8, ".jpg"),
                    video=None, boxes=gt, visible=(occ == 0) & (oov == 0),
                    object_class=folder.name.rsplit("-", 1)[0])


def _check_test_names(root: Path, names: list[str] | None, test: set[str]) -> None:
    """Names asked for on the test split: a training sequence present under root is named as one (it was 'not in
    lasot; did you mean ...' listing test sequences), and a root holding no test sequence at all is named once (it
    was the first of 280 folders 'missing')."""
    other = next((nm for nm in names or [] if nm not in test and _seq_dir(root, nm).is_dir()), None)
    if other is not None and not is_train_name(other):   # atv-1 of LaSOT-extension beside LaSOT's classes
        raise DatasetError(f"sequence {other!r} is in neither LaSOT's test split nor its train split (it is no "
                           "<class>-N of LaSOT's 70 classes, N = 1..20); pass --split all to evaluate it")
    if other is not None:
        raise DatasetError(f"sequence {other!r} is a LaSOT training sequence, not one of the 280 of the test split; "
                           "pass --split train (or --split all) to evaluate it")
    wanted = [nm for nm in names or test if nm in test]
    if wanted and not any(_seq_dir(root, nm).is_dir() for nm in wanted):
        sub = one_folder_down(root, lambda d: any(_seq_dir(d, nm).is_dir() for nm in wanted))
        if sub is not None:   # LaSOTBenchmark/ of the archive
            raise DatasetError(f"no LaSOT test sequence under {root}, but {sub} holds them; point the root at {sub}")
        raise DatasetError(f"no LaSOT test sequence under {root} (it should hold <class>/<class>-<n>/ folders such as "
                           "airplane/airplane-1/, or <class>-<n>/ ones); point the root at the folder that holds them")


def read(root: Path, split: str | None, names: list[str] | None, dataset: str = "lasot") -> list[Sequence]:
    """LaSOT split 'test' (default, the 280 list), 'train' (the official train split's sequences present) or 'all';
    LaSOT-extension: every sequence present."""
    if dataset == "lasot_extension_subset":
        available = present_names(root)
        if not available:   # it was 'has no sequences; check the root (its list.txt ...)': LaSOT has no list.txt
            raise no_sequences("LaSOT-extension sequence (<class>/<class>-<n>/ with groundtruth.txt and img/, such as "
                               "atv/atv-1/)", root, lambda d: bool(present_names(d)),
                               "point the root at the folder that holds the <class>/ folders")
        if not any((_seq_dir(root, nm) / m).exists() for nm in available for m in ("img", "full_occlusion.txt")):
            raise DatasetError(f"no LaSOT-extension sequence under {root}: its folders with a groundtruth.txt have "
                               "neither img/ nor full_occlusion.txt, as LaSOT's have (frames beside the box file are "
                               "GOT-10k's layout, a dt data synth set's or one's own footage's: --dataset folder reads "
                               "them); point the root at the folder that holds the <class>/ folders")
    else:
        split = (split or "test").lower()
        if split == "test":
            available = test_names()
            _check_test_names(root, names, set(available))
        elif split in ("train", "all"):
            available = [s for s in present_names(root) if split == "all" or is_train_name(s)]
        else:
            raise DatasetError(f"unknown LaSOT split {split!r}; use test, train or all")
    chosen = select(available, names, dataset)
    if dataset == "lasot" and split == "test":
        _check_present(root, chosen)
    return [read_sequence(_seq_dir(root, nm), dataset) for nm in chosen]
