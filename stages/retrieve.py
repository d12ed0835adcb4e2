"""Stage ``retrieve`` as DVC runs it; the stage itself is :mod:`mscl.pipeline.retrieve`."""
from mscl.pipeline.retrieve import main

if __name__ == "__main__":
    main()
