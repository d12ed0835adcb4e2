"""MSCL: motion-sensitive contrastive learning of video representations, as a DVC pipeline.

Tensor conventions (the whole project follows them; convert only at the dataset boundary):

* stored frames: ``(T, H, W, 3)`` uint8 RGB, one container file per video;
* RGB clip: ``(3, T, H, W)`` float; a batch of clips ``(B, 3, T, H, W)``;
* flow: ``(2, T, H, W)`` float, channel 0 = u (x, rightwards), channel 1 = v (y, downwards),
  in pixels between stored frames i and i + ``flow.offset``; stored flow files hold
  ``(T, H, W, 2)`` uint8, quantised with ``flow.bound``;
* colour-coded flow (the flow encoder's input): ``(3, T, H, W)`` float in [0, 1].

Layers (a module imports only from layers below its own; ``tests/test_layering.py`` checks):

0. ``params``, ``dist``
1. ``io``, ``synthetic``
2. ``flow``
3. ``sampling``
4. ``transforms``
5. ``data``
6. ``models``, ``losses``
7. ``pretrain``
8. ``downstream``, ``report``, ``bench``
9. ``hub``
"""
