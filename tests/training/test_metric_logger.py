from foundations.step import Step
from training.metric_logger import MetricLogger


def test_format_and_round_trip(tmp_path):
    logger = MetricLogger()
    logger.add('train_accuracy', Step(0, 1), 0.5)
    logger.add('train_accuracy', Step(1, 1), 0.6)
    logger.add('test_accuracy', Step(0, 1), 0.4)
    assert str(logger) == 'train_accuracy,0,0.5\ntrain_accuracy,1,0.6\ntest_accuracy,0,0.4'
    assert logger.get_data('train_accuracy') == [(0, 0.5), (1, 0.6)]
    logger.add('train_accuracy', Step(0, 1), 0.7)  # Overwrites in place.
    assert str(logger).splitlines()[0] == 'train_accuracy,0,0.7'
    assert str(MetricLogger.create_from_string(str(logger))) == str(logger)
    logger.save(str(tmp_path))
    assert (tmp_path / 'logger').read_text() == str(logger)
    assert str(MetricLogger.create_from_file(str(tmp_path))) == str(logger)
    assert str(MetricLogger.create_from_string('  ')) == ''


def test_golden_logger_text_parses():
    """The logger files the original wrote parse and re-serialise byte for byte."""
    from tests.conftest import load_golden
    for scenario in load_golden('logger.json')['scenarios']:
        for name, entry in scenario.get('files_after', {}).items():
            if name.endswith('/logger'):
                assert str(MetricLogger.create_from_string(entry['text'])) == entry['text']
