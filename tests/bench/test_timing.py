"""The shared timing helpers of the bench scripts."""

import ppi.bench.timing as timing


def test_contenders_alternate_and_keep_their_fastest_turn(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: now[0])
    durations = iter([5.0, 1.0, 2.0, 3.0, 0.5, 4.0])  # what each call takes, in call order
    calls = []

    def contender(name):
        def run():
            calls.append(name)
            now[0] += next(durations)
            return len(calls)

        return run

    best = timing.best_times_in_turn({"a": contender("a"), "b": contender("b")}, 3)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert best["a"] == (0.5, 5)  # its turns took 5.0, 2.0, 0.5; its last result is call 5
    assert best["b"] == (1.0, 6)  # its turns took 1.0, 3.0, 4.0
