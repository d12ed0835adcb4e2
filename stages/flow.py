"""Stage ``flow`` as DVC runs it; the stage itself is :mod:`mscl.pipeline.flow`."""
from mscl.pipeline.flow import main

if __name__ == "__main__":
    main()
