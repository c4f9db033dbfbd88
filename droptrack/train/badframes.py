"""Training frames that cannot be read (a corrupt or missing image, a damaged video frame): the sample is drawn again,
each frame is named once, and the run stops in one line only when more than MAX_BAD_FRAMES different ones fail."""

from __future__ import annotations

from typing import Callable

from droptrack.errors import TrainingError, printable

# Different unreadable frames one run skips before it stops: a few damaged files of a large dataset pass, a broken
# download or extraction (thousands of them) stops within the first few hundred samples.
MAX_BAD_FRAMES = 50


class BadFrames:
    """The unreadable frames met so far in this process and the samples drawn again because of them."""

    def __init__(self, limit: int = MAX_BAD_FRAMES, then: Callable[[], str] = lambda: "run the same command again"):
        self.limit = limit
        self.then = then   # how to go on once the dataset is repaired (the run's resume hint when it stops)
        self.problems: dict[str, None] = {}   # each frame's error message (it names the file), in order met
        self.samples = 0
        self.seen_damaged: dict[str, None] = {}   # frames that decoded despite damage, named once each

    def add(self, problems: list[str]) -> list[str]:
        """Count the samples skipped for `problems` (one message each); the warning lines of frames not met before.
        TrainingError once more than `limit` different frames have failed."""
        self.samples += len(problems)
        new = [p for p in dict.fromkeys(problems) if p not in self.problems]
        for p in new:
            self.problems[p] = None
        if len(self.problems) > self.limit:
            raise TrainingError(f"{len(self.problems)} different training frames could not be read (the run stops "
                                f"past {self.limit}; the latest: {problems[-1]}); repair or re-download the dataset "
                                f"(train.log names each file), then {self.then()}")
        return [f"warning: skipped a training sample: {printable(p)} ({len(self.problems)} unreadable frame(s) so "
                f"far; the run stops past {self.limit})" for p in new]   # a path from elsewhere: no control characters

    def damaged(self, frames: list[str]) -> list[str]:
        """The warning lines of frames that decoded despite damage ('PATH: decoder line'), each named once; they are
        trained on as decoded and do not count towards the limit (a JPEG with extraneous bytes is whole)."""
        new = [f for f in dict.fromkeys(frames) if f not in self.seen_damaged]
        self.seen_damaged.update(dict.fromkeys(new))
        return [f"warning: training frame {printable(f)} (decoded despite damage, trained on as decoded; repair or "
                "re-download it)" for f in new]

    def summary(self) -> str | None:
        """One line for the end of the run, or None when every frame was read."""
        if not self.problems:
            return None
        return (f"{self.samples} training sample(s) drawn again because {len(self.problems)} frame(s) could not be "
                "read (named in train.log); repair or re-download them")

    def over_ranks(self) -> BadFrames:
        """The frames and samples of every DDP rank together (each rank draws its own samples, so each met its own
        frames); a collective that every rank calls. This one itself in a single process."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return self
        gathered: list = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, (list(self.problems), self.samples))
        total = BadFrames(self.limit, self.then)
        for problems, samples in gathered:
            total.problems.update(dict.fromkeys(problems))
            total.samples += samples
        return total

    def tell_summary(self, tell: Callable[[str], None]) -> None:
        """Pass the end-of-run lines to `tell` (rank 0's console and train.log), if any frame was skipped on any
        rank: the frames only other ranks met (their warnings went to their own stderr), then the total over ranks.
        Under DDP every rank calls it (a collective)."""
        total = self.over_ranks()
        for p in total.problems:
            if p not in self.problems:
                tell(f"warning: skipped a training sample in another process of this run: {p}")
        line = total.summary()
        if line is not None:
            tell(line)
