"""The rules of sequence analysis (contract 5) that the plugin and Zeek are held to: the
acceptance window, strays, restarts, and the pairing of GRE-only flows by acknowledgment."""

from pptp_harness import scenarios
from pptp_harness.expected import (
    RESTART_IDLE,
    SEQ_MOD,
    SEQ_WINDOW,
    Direction,
    SequenceTracker,
    pair_flows,
)


def run(numbers, times=None):
    tracker = SequenceTracker()
    verdicts = [
        tracker.observe(seq, None if times is None else times[i]) for i, seq in enumerate(numbers)
    ]
    return tracker, verdicts


def test_a_stray_far_ahead_or_behind_moves_nothing():
    tracker, verdicts = run([10, 11, 11 + SEQ_WINDOW + 1, 12, 12 - SEQ_WINDOW - 1, 13])
    assert verdicts[2] == verdicts[4] == {"pptp_gre.analysis.out_of_window": 1}
    assert verdicts[3] == verdicts[5] == {}
    assert (tracker.lost, tracker.out_of_window, tracker.restarts) == (0, 2, 0)


def test_a_lone_number_beyond_the_flow_shows_a_gap_but_no_loss():
    tracker, verdicts = run([0, 1, 2, 300, 3, 4])
    assert verdicts[3] == {"pptp_gre.analysis.lost": 297}
    assert verdicts[4] == {"pptp_gre.analysis.out_of_order": 1}
    assert tracker.lost == 0


def test_a_loss_counts_once_a_run_of_three_confirms_the_far_side():
    tracker, _ = run([0, 1, 2, 5])
    assert tracker.lost == 0  # 5 alone may be a damaged copy
    tracker, _ = run([0, 1, 2, 5, 6])
    assert tracker.lost == 0  # so may two that landed close together
    tracker, _ = run([0, 1, 2, 5, 6, 7])
    assert tracker.lost == 2
    tracker, _ = run([0, 1, 2, 6, 4])
    assert tracker.lost == 2  # 4 and 6 carry the run on from 2: 3 and 5 never came


def test_a_flow_starts_at_its_first_number():
    """Two numbers in a row are a run where one is the first the flow sent: a loss right
    after them counts."""
    tracker, _ = run([0, 1, 5, 6, 7])
    assert tracker.lost == 3
    tracker, _ = run([10, 11, 12, 5, 6])
    assert tracker.lost == 0  # two below the start that landed close together are not


def test_no_loss_counts_before_the_first_number():
    """A copy of a flow's first packet whose number landed two before it (its flags altered,
    so that its acknowledgment was read as its number) is out of order, but the number between
    is no loss: the flow starts where it was first seen."""
    tracker, verdicts = run([1, SEQ_MOD - 1, 2, 3])
    assert verdicts[1] == {"pptp_gre.analysis.out_of_order": 1}
    assert tracker.lost == 0


def test_altered_copies_that_land_close_together_beyond_the_flow_add_no_loss():
    """Copies of the flow's last packets whose low octet changed: two of them a step apart
    beyond the last number are no tail; a third in the same run would be."""
    tracker, _ = run([0, 1, 2, 3, 40, 4, 42, 5])
    assert tracker.lost == 0
    tracker, _ = run([0, 1, 2, 3, 40, 4, 42, 5, 41])
    assert tracker.lost == 34


def test_copies_whose_numbers_creep_ahead_do_not_push_the_flow_out_of_the_window():
    numbers = []
    for seq in range(20):
        numbers += [seq, seq + 3000 * (seq + 1)]  # each a copy farther ahead than the last
    tracker, _ = run(numbers)
    assert (tracker.lost, tracker.restarts) == (0, 0)
    assert tracker.out_of_window > 0


def test_the_window_edge_is_still_analysed():
    tracker, verdicts = run([10, 10 + SEQ_WINDOW, 11])
    assert verdicts[1] == {"pptp_gre.analysis.lost": SEQ_WINDOW - 1}
    assert verdicts[2] == {"pptp_gre.analysis.out_of_order": 1}
    assert tracker.out_of_window == 0


def test_numbers_that_continue_from_a_stray_are_a_restart_keeping_earlier_losses():
    far = 2**31 + 7
    tracker, verdicts = run([0, 2, far, far + 2, far + 3])
    assert verdicts[2] == {"pptp_gre.analysis.out_of_window": 1}
    assert verdicts[3] == {"pptp_gre.analysis.restart": 1, "pptp_gre.analysis.lost": 1}
    assert (tracker.lost, tracker.out_of_window, tracker.restarts) == (2, 0, 1)


def test_the_same_numbers_after_a_silence_are_a_restart_not_duplicates():
    numbers = [5, 6, 7, 5, 6, 8]
    times = [0.0, 0.1, 0.2, 0.2 + RESTART_IDLE, 0.3 + RESTART_IDLE, 0.4 + RESTART_IDLE]
    tracker, verdicts = run(numbers, times)
    assert verdicts[3] == {"pptp_gre.analysis.out_of_window": 1}
    assert verdicts[4] == {"pptp_gre.analysis.restart": 1}
    assert (tracker.duplicates, tracker.lost, tracker.restarts) == (0, 1, 1)


def test_a_silence_shorter_than_the_idle_limit_keeps_duplicates_duplicates():
    tracker, _ = run([5, 6, 5], [0.0, 0.1, RESTART_IDLE - 1])
    assert (tracker.duplicates, tracker.out_of_window) == (1, 0)


def test_the_wrap_stays_inside_the_window():
    tracker, verdicts = run([SEQ_MOD - 2, SEQ_MOD - 1, 1])
    assert verdicts[2] == {"pptp_gre.analysis.lost": 1}
    assert tracker.out_of_window == 0


def test_an_acknowledgment_pairs_flows_only_within_the_numbers_sent():
    sent = Direction()
    for seq in (100, 101, 102):
        sent.tracker.observe(seq)
    assert not sent.tracker.acknowledges(99) and not sent.tracker.acknowledges(103)
    back = Direction()
    for seq in (7000, 7001):
        back.tracker.observe(seq)
    pair_flows(back, 7, [(8, sent)], 103)
    assert back.paired_call_id is None
    pair_flows(back, 7, [(8, sent)], 101)
    assert (back.paired_call_id, sent.paired_call_id) == (8, 7)


def test_two_lone_packets_are_no_tunnel():
    """Altered copies whose Call IDs changed: one packet each way, the one acknowledging the
    other's number, pair nothing until each flow has a confirmed number."""
    sent, back = Direction(), Direction()
    sent.tracker.observe(100)
    back.tracker.observe(7000)
    pair_flows(back, 7, [(8, sent)], 100)
    assert back.paired_call_id is None
    sent.tracker.observe(101)
    back.tracker.observe(7001)
    pair_flows(back, 7, [(8, sent)], 101)
    assert (back.paired_call_id, sent.paired_call_id) == (8, 7)


def test_scenarios_state_their_figures():
    (call,) = scenarios.build("sequence_out_of_window").ground_truth()["calls"]
    assert [call["client_to_server"][k] for k in ("lost", "out_of_window")] == [1, 3]
    (call,) = scenarios.build("sequence_restart").ground_truth()["calls"]
    for side in ("client_to_server", "server_to_client"):
        assert [call[side][k] for k in ("lost", "duplicate", "restarts")] == [1, 0, 1]
    flows = scenarios.build("gre_only_tunnel").ground_truth()["gre_without_call"]
    assert [f["paired_call_id"] for f in flows] == [41, 40, None, None]


def test_a_repeat_between_a_stray_and_its_continuation_does_not_hide_the_restart():
    numbers = [5, 6, 7, 5, 5, 6, 8]
    times = [
        0.0,
        0.1,
        0.2,
        0.2 + RESTART_IDLE,
        0.2 + RESTART_IDLE,
        0.3 + RESTART_IDLE,
        0.4 + RESTART_IDLE,
    ]
    tracker, verdicts = run(numbers, times)
    assert verdicts[4] == {"pptp_gre.analysis.duplicate": 1}  # the repeat, still the old flow's
    assert verdicts[5] == {"pptp_gre.analysis.restart": 1}
    assert (tracker.restarts, tracker.out_of_window) == (1, 0)


def test_once_the_flow_goes_on_an_earlier_stray_is_no_restart():
    far = 2**31
    tracker, verdicts = run([0, 1, 2, far, 3, far + 1])
    assert verdicts[5] == {"pptp_gre.analysis.out_of_window": 1}
    assert (tracker.restarts, tracker.out_of_window) == (0, 2)
