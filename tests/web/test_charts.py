"""The learning curve's geometry: a lone model's point is centred and explained in words."""

from __future__ import annotations

from app.web.charts import learning_curve


def test_one_model_is_a_centred_point_with_a_note() -> None:
    chart = learning_curve([(48, {"accuracy": 0.81, "macro_f1": 0.78})])
    assert chart is not None
    left, _, right, _ = chart.plot
    (x, _, _), *_ = chart.series[0].dots
    assert abs(x - (left + right) / 2) < 0.1 * (right - left)
    assert chart.note == (
        "One model so far, trained on 48 labels: accuracy 0.810, macro-F1 0.780. "
        "The curve grows with every retrain."
    )
    assert chart.dot_radius > 3


def test_several_models_span_the_axis_without_a_note() -> None:
    chart = learning_curve([(20, {"accuracy": 0.5}), (40, {"accuracy": 0.6})])
    assert chart is not None and chart.note is None
    _, _, right, _ = chart.plot
    assert chart.series[0].dots[-1][0] == right  # the newest model at the end of the axis
