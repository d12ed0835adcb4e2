"""Stage ``linear`` as DVC runs it; the stage itself is :mod:`mscl.pipeline.linear`."""
from mscl.pipeline.linear import main

if __name__ == "__main__":
    main()
