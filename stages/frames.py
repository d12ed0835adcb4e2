"""Stage ``frames`` as DVC runs it; the stage itself is :mod:`mscl.pipeline.frames`."""
from mscl.pipeline.frames import main

if __name__ == "__main__":
    main()
