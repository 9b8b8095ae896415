"""Finding expressions in time: a per-frame facial-motion signal of an aligned clip, and the
onset–apex–offset window it implies (`attrmer.spot.signal`, `attrmer predict --window auto`);
and the micro- and macro-expressions of a long video (`attrmer spot`): how much each region of
the face moves at every frame, against a neutral reference, and the intervals where that
motion peaks. Not for scoring spotted intervals against annotations (`attrmer.spot.evaluate`).

The long-video spotter, in the order a video goes through it: the face's regions
(`attrmer.spot.regions`), their tracks through the video (`attrmer.spot.tracking`), the curves
and peaks read from the tracks (`attrmer.spot.peaks`), and a video file or frame folder read
into them (`attrmer.spot.reading`, `spot_path`).

The method is the optical-flow ROI spotting of MEGC 2022,

    Y. Zhao, X. Tong, Z. Zhu, J. Sheng, L. Dai, L. Xu, X. Xia, Y. Jiang, J. Li, "Rethinking
    Optical Flow Methods for Micro-Expression Spotting", Proceedings of the 30th ACM
    International Conference on Multimedia (MM '22, MEGC 2022 Grand Challenge), 2022,
    doi:10.1145/3503161.3551602,

which refines the workflow of Y. He, "Research on Micro-Expression Spotting Method Based on
Optical Flow Features", ACM MM 2021, doi:10.1145/3474085.3479225. In both: align the face with
landmarks; measure dense optical flow in regions of interest where the action units act
(brows, cheeks, mouth corners, chin), between a frame and a reference a number of frames away
set by how long the expression type lasts; take the nose region as the reference of head
motion and subtract its flow from every region's; keep the eyes out of the expression evidence
(blinks); spot the peaks of the per-frame curve that clear a threshold, their onset and offset
where the curve returns to rest, micro or macro by their length.

Where this departs from the paper, and why:
- The reference. The paper, like the MEGC methods before it, compares a frame with one other
  frame k frames away. That frame is as likely to be mid-expression as neutral, and an
  expression then shows twice in the curve (once going out, once coming back), a pattern the
  paper has to pair up again. Here every region's position (relative to the nose) is tracked
  through the video, and a frame is measured against the median position over k frames either
  side: an expression shorter than k cannot move that median, so the curve rises at the onset,
  peaks at the apex and falls at the offset, once, whatever the expression's length up to k.
  There are two curves: k of `micro_window_seconds` (0.5 s: no micro-expression is longer)
  for micro-expressions and k of `macro_window_seconds` (4 s) for macro-expressions, both in
  frames at the video's frame rate.
- The flow. One Farneback flow per frame (`preprocess.flow.farneback_flow`, the flow stage's
  settings but a `flow_window` scaled to the crop), on the part of a `flow_size` px aligned
  face that holds the regions (`regions.FACE_WINDOW`), against the first frame of the frame's
  alignment segment; the tracks give every reference for the price of that one flow. The
  paper computes a flow per frame pair with a stronger, slower estimator; at one flow per
  frame, with the decoding in a thread of its own, spotting a 640×480 video costs about 1.6x
  decoding it on two cores (`bench/spot.py`).
- Alignment. The project's one aligner (`preprocess.align`: dlib HOG, 68 landmarks, the
  similarity transform onto `TEMPLATE`) rather than the paper's landmark model, run once per
  segment: every `realign_seconds`, and sooner when the nose has drifted (`realign_shift`) or
  the crop no longer resembles the segment's first crop (`lost_similarity`; such frames have
  no signal). A re-detection searches near the last face first, at about half a whole
  frame's cost. Consecutive segments overlap by `tracking.JOIN_FRAMES` frames, over which their
  tracks are joined.
- Thresholds. The paper tunes fixed thresholds per region and dataset (Bayesian optimisation);
  here a peak must clear its curve's own resting level (the median) by a minimum in pixels and
  by a multiple of the curve's noise (its MAD), so one setting serves videos of any noise.
  The defaults were chosen by grid search on the built-in long-video corpus rendered with
  seeds 1 and 2 (16 videos; never the seed-0 corpus that spotting is evaluated on): F1 0.82
  there at IoU 0.5 (micro 0.75, macro 0.90).
- Blinks. The eye regions are not expression evidence; they give the blink curve, from their
  grey level rather than their flow (a closing lid covers the dark of the eye more than it
  moves anything). During a blink the brows and cheeks, which the lid's motion reaches at this
  size, are left out of the micro curve, so a blink is not spotted as a brow micro-expression;
  a brow or cheek micro-expression during a blink is lost with it, and so is one that narrows
  the eyes enough (AU6, AU7) to read as a blink.
- Speech, which the paper does not treat: a peak led by the mouth or chin during which the
  chin drops more than `speech_jaw_drop` below its neutral position (the jaw opening of a
  syllable) is taken for speech and not spotted. An expression that opens the jaw, a laugh or
  surprise's AU26, is lost with it unless the brows lead it.
"""

from attrmer.spot.peaks import SpotResult
from attrmer.spot.reading import spot_path
from attrmer.spot.signal import MotionSignal, Window, find_window, motion_signal

__all__ = ["MotionSignal", "SpotResult", "Window", "find_window", "motion_signal", "spot_path"]
