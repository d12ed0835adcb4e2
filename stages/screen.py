"""Stage ``screen`` as DVC runs it; the stage itself is :mod:`mscl.pipeline.screen`."""
from mscl.pipeline.screen import main

if __name__ == "__main__":
    main()
