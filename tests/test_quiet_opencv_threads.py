"""`quiet_opencv` from two threads at once (dt serve reads frames while its --save writer writes them): OpenCV's
log level is one per process, and each user saving and restoring the level it found let overlapping users leave
the log switched off for good (A saves WARNING, B saves SILENT, A restores WARNING while B still reads, B restores
SILENT). The threads are ordered by events, not by timing."""

from __future__ import annotations

import threading

import pytest

from droptrack.decodelog import quiet_opencv

cv2 = pytest.importorskip("cv2")
log = cv2.utils.logging


@pytest.fixture
def warning_level():
    """OpenCV's log at WARNING for the test, the level it had put back afterwards."""
    before = log.getLogLevel()
    log.setLogLevel(log.LOG_LEVEL_WARNING)
    yield log.LOG_LEVEL_WARNING
    log.setLogLevel(before)


def _run(target, *args):
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def test_overlapping_users_keep_the_log_silent_until_the_last_leaves(warning_level):
    a_in, b_in, a_out, checked = (threading.Event() for _ in range(4))
    seen: dict[str, int] = {}
    failures: list[BaseException] = []

    def first():
        try:
            with quiet_opencv():
                a_in.set()
                assert b_in.wait(30)
                seen["a inside"] = log.getLogLevel()
        except BaseException as exc:  # noqa: BLE001 (handed to the main thread)
            failures.append(exc)
        finally:
            a_out.set()

    def second():
        try:
            assert a_in.wait(30)
            with quiet_opencv():
                b_in.set()
                assert checked.wait(30)
                seen["b inside after a left"] = log.getLogLevel()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)
        finally:
            b_in.set()

    threads = [_run(first), _run(second)]
    assert a_out.wait(30)
    seen["while b is inside"] = log.getLogLevel()
    checked.set()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
    assert not failures
    assert seen == {"a inside": log.LOG_LEVEL_SILENT, "while b is inside": log.LOG_LEVEL_SILENT,
                    "b inside after a left": log.LOG_LEVEL_SILENT}
    assert log.getLogLevel() == warning_level


def test_many_threads_leaving_in_any_order_restore_the_level(warning_level):
    n = 6
    inside = threading.Barrier(n + 1)
    leave = [threading.Event() for _ in range(n)]
    left = [threading.Event() for _ in range(n)]

    def user(i):
        try:
            with quiet_opencv():
                inside.wait(30)
                leave[i].wait(30)
        finally:
            left[i].set()

    threads = [_run(user, i) for i in range(n)]
    inside.wait(30)
    levels = []
    for i in (3, 0, 5, 1, 4, 2):   # not the order they came in
        assert log.getLogLevel() == log.LOG_LEVEL_SILENT
        leave[i].set()
        assert left[i].wait(30)
        levels.append(log.getLogLevel())
    for thread in threads:
        thread.join(30)
    assert levels == [log.LOG_LEVEL_SILENT] * (n - 1) + [warning_level]


def test_an_error_inside_still_restores_the_level(warning_level):
    with pytest.raises(RuntimeError):
        with quiet_opencv():
            assert log.getLogLevel() == log.LOG_LEVEL_SILENT
            raise RuntimeError("read failed")
    assert log.getLogLevel() == warning_level
