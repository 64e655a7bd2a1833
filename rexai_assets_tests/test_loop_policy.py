"""When the loop retrains: thresholds, max age, cooldown."""

from __future__ import annotations

from datetime import datetime, timedelta

from rexai_assets.loop.policy import MAX_AGE, NEW_OBSERVATIONS, NO_CHAMPION, RetrainingSettings, decide_retrain

NOW = datetime(2026, 11, 21, 12, 0, 0)
CFG = RetrainingSettings(min_new_rows=50, max_age_hours=24, cooldown_minutes=10)


def test_below_threshold_buffers():
    decision = decide_retrain(NOW, 49, None, NOW - timedelta(hours=1), CFG)
    assert not decision.retrain and decision.reason == "49 new labelled rows < 50"


def test_threshold_crossed_triggers_with_counts():
    decision = decide_retrain(NOW, 50, NOW - timedelta(hours=1), NOW - timedelta(hours=1), CFG)
    assert decision.retrain and decision.trigger == NEW_OBSERVATIONS
    assert decision.tags == {"rexai/trigger": NEW_OBSERVATIONS, "rexai/count_new_rows": "50",
                             "rexai/count_min_new_rows": "50"}


def test_cooldown_wins_over_everything():
    decision = decide_retrain(NOW, 500, NOW - timedelta(minutes=4), None, CFG, check_age=True)
    assert not decision.retrain and decision.reason.startswith("cooldown: last retrain 240 s ago, 360 s to go")


def test_max_age_only_when_the_schedule_asks():
    old = NOW - timedelta(hours=30)
    assert not decide_retrain(NOW, 0, None, old, CFG).retrain
    decision = decide_retrain(NOW, 0, None, old, CFG, check_age=True)
    assert decision.retrain and decision.trigger == MAX_AGE
    assert decision.tags["rexai/count_champion_age_hours"] == "30.0"
    assert not decide_retrain(NOW, 0, None, NOW - timedelta(hours=2), CFG, check_age=True).retrain


def test_no_champion_makes_the_schedule_train():
    decision = decide_retrain(NOW, 0, None, None, CFG, check_age=True)
    assert decision.retrain and decision.trigger == NO_CHAMPION
