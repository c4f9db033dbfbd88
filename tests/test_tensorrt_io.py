"""What TensorRTBackend refuses to bind in an engine's I/O (no TensorRT needed: `io_problems` reads TensorInfo)."""

from __future__ import annotations

from droptrack.engine import trt_compat


def test_engine_io_the_backend_cannot_bind_is_named():
    from droptrack.engine.tensorrt_backend import io_problems

    T = trt_compat.TensorInfo
    want = {"template": (1, 3, 64, 64), "search": (1, 3, 128, 128)}
    good = {"template": T("template", True, (1, 3, 64, 64), "float32"),
            "search": T("search", True, (1, 3, 128, 128), "float32"),
            "score_map": T("score_map", False, (1, 1, 8, 8), "float16")}
    assert io_problems(good, want) == []
    bad = {"template": T("template", True, (-1, 3, 64, 64), "float32"),
           "search": T("search", True, (1, 3, 96, 96), "float16"),
           "score_map": T("score_map", False, (1, 1, 8, 8), "fp8")}
    assert io_problems(bad, want) == ["'template' has a dynamic shape (-1, 3, 64, 64)",
                                      "'search' is (1, 3, 96, 96), the artifact's sizes give (1, 3, 128, 128)",
                                      "input 'search' is float16, not float32",
                                      "output 'score_map' is fp8, not float32, float16 or bfloat16"]


def test_engine_io_of_another_batch_or_beyond_the_trackers_is_named():
    """The backend binds template, search and the three maps, all of template's batch: an engine with a search or an
    output of another batch, or with an I/O tensor it does not bind, was loaded and would run on wrong bytes."""
    from droptrack.engine.tensorrt_backend import io_problems

    T = trt_compat.TensorInfo
    want = {"template": (1, 3, 64, 64), "search": (1, 3, 128, 128)}
    tensors = {"template": T("template", True, (1, 3, 64, 64), "float32"),
               "search": T("search", True, (2, 3, 128, 128), "float32"),
               "score_map": T("score_map", False, (1, 1, 8, 8), "float32"),
               "size_map": T("size_map", False, (2, 2, 8, 8), "float32"),
               "offset_map": T("offset_map", False, (1, 2, 8, 8), "float32"),
               "mask": T("mask", True, (1, 64), "float32"),
               "attn": T("attn", False, (1, 4, 64, 64), "float32")}
    assert io_problems(tensors, want) == ["'search' is (2, 3, 128, 128), not batch 1 as 'template'",
                                          "'size_map' is (2, 2, 8, 8), not batch 1 as 'template'",
                                          "extra input 'mask' that the tracker does not bind",
                                          "extra output 'attn' that the tracker does not bind"]
    two = {n: T(n, t.is_input, (2, *t.shape[1:]), t.dtype) for n, t in tensors.items() if n not in ("mask", "attn")}
    assert io_problems(two, want) == []                                  # batch 2 throughout binds (two at a time)


def test_engine_maps_of_another_size_than_the_artifact_are_named_before_allocation():
    """An engine that declares maps of another size than its metadata (e.g. (1, 1, 40000, 40000): 6.4 GB) got its
    output buffers allocated at load; only the per-frame check caught it afterwards."""
    from droptrack.engine.tensorrt_backend import io_problems

    T = trt_compat.TensorInfo
    want = {"template": (1, 3, 64, 64), "search": (1, 3, 128, 128)}
    io = {"template": T("template", True, (1, 3, 64, 64), "float32"),
          "search": T("search", True, (1, 3, 128, 128), "float32"),
          "score_map": T("score_map", False, (1, 1, 40000, 40000), "float32"),
          "size_map": T("size_map", False, (1, 2, 8, 8), "float32"),
          "offset_map": T("offset_map", False, (1, 1, 8, 8), "float16")}
    assert io_problems(io, want, feat=8) == ["output 'score_map' is (1, 1, 40000, 40000), the artifact's sizes give "
                                             "(N, 1, 8, 8)",
                                             "output 'offset_map' is (1, 1, 8, 8), the artifact's sizes give "
                                             "(N, 2, 8, 8)"]
    io["score_map"] = T("score_map", False, (1, 1, 8, 8), "float32")
    io["offset_map"] = T("offset_map", False, (1, 2, 8, 8), "float16")
    assert io_problems(io, want, feat=8) == []


def test_engine_io_in_a_vectorized_layout_or_host_memory_is_named():
    """TensorRT's I/O tensors may be built in a vectorized layout (HWC8: [N][H][W][(C+7)/8*8], 8 values per pixel for
    a one-channel map) or in host memory; the backend allocated row-major torch buffers on the GPU from the shape
    alone, so TensorRT would have written past a score_map buffer. `io_tensors` reads layout and location from the
    engine (ICudaEngine.get_tensor_format / get_tensor_location) and `io_problems` names them."""
    from fake_tensorrt import FakeTRT, io_spec

    from droptrack.engine.tensorrt_backend import io_problems

    io = (io_spec("template", "INPUT", (1, 3, 64, 64)), io_spec("search", "INPUT", (1, 3, 128, 128)),
          io_spec("score_map", "OUTPUT", (1, 1, 8, 8), "HALF", layout="HWC8"),
          io_spec("size_map", "OUTPUT", (1, 2, 8, 8), location="HOST"),
          io_spec("offset_map", "OUTPUT", (1, 2, 8, 8), "BF16"))
    trt = FakeTRT(io=io).module()
    runtime, engine = trt_compat.deserialize(trt, b"PLAN", trt_compat.logger(trt))
    tensors = {t.name: t for t in trt_compat.io_tensors(engine, trt)}
    assert [(t.is_input, t.dtype, t.layout, t.location) for t in tensors.values()] == [
        (True, "float32", "LINEAR", "DEVICE"), (True, "float32", "LINEAR", "DEVICE"),
        (False, "float16", "HWC8", "DEVICE"), (False, "float32", "LINEAR", "HOST"),
        (False, "bfloat16", "LINEAR", "DEVICE")]
    want = {"template": (1, 3, 64, 64), "search": (1, 3, 128, 128)}
    assert io_problems(tensors, want, feat=8) == [
        "'score_map' has TensorRT's HWC8 layout, not LINEAR (row-major, as torch tensors)",
        "'size_map' is in host memory, not on the GPU"]


def test_engine_output_maps_that_are_not_floating_point_are_named():
    """An engine from elsewhere whose maps are INT8 (a graph ending in QuantizeLinear), INT32 or INT4 was loaded: the
    integer maps were read as float32 values (wrong boxes, no error), an INT4 one failed on the first frame with a
    traceback (torch has an int4 dtype it cannot convert to float32)."""
    from fake_tensorrt import FakeTRT, io_spec

    from droptrack.engine.tensorrt_backend import io_problems

    io = (io_spec("template", "INPUT", (1, 3, 64, 64)), io_spec("search", "INPUT", (1, 3, 128, 128)),
          io_spec("score_map", "OUTPUT", (1, 1, 8, 8), "INT8"), io_spec("size_map", "OUTPUT", (1, 2, 8, 8), "INT32"),
          io_spec("offset_map", "OUTPUT", (1, 2, 8, 8), "INT4"))
    trt = FakeTRT(io=io).module()
    runtime, engine = trt_compat.deserialize(trt, b"PLAN", trt_compat.logger(trt))
    tensors = {t.name: t for t in trt_compat.io_tensors(engine, trt)}
    want = {"template": (1, 3, 64, 64), "search": (1, 3, 128, 128)}
    assert io_problems(tensors, want, feat=8) == [f"output '{n}' is {t}, not float32, float16 or bfloat16" for n, t in
                                                  (("score_map", "int8"), ("size_map", "int32"), ("offset_map", "int4"))]
