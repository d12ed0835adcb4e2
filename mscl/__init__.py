"""MSCL: motion-sensitive contrastive learning of video representations, as a DVC pipeline.

Tensor conventions (the whole project follows them; convert only at the dataset boundary):

* stored frames: ``(T, H, W, 3)`` uint8 RGB, one container file per video;
* RGB clip: ``(3, T, H, W)`` float; a batch of clips ``(B, 3, T, H, W)``;
* flow: ``(2, T, H, W)`` float, channel 0 = u (x, rightwards), channel 1 = v (y, downwards),
  in pixels between stored frames i and i + ``flow.offset``; stored flow files hold
  ``(T, H, W, 2)`` uint8, quantised with ``flow.bound``;
* colour-coded flow (the flow encoder's input): ``(3, T, H, W)`` float in [0, 1].

Layers (a module imports only from packages of layers below its own, never from another package
of its layer; each package sits one above the highest it imports; ``tests/test_layering.py``
checks both):

0. ``params``, ``dist``, ``io``, ``transforms``, ``losses``, ``report``, ``stats``, ``camera``
1. ``synthetic``, ``flow``, ``models``, ``preset``
2. ``sampling``, ``bench``
3. ``data``
4. ``pretrain``, ``downstream``
5. ``pipeline``, ``hub``

``pipeline`` holds one module per DVC stage, named as the stage; the packages below it hold the
algorithms and file formats the stages use, no stage work.
"""
