"""Stage ``index`` as DVC runs it; the stage itself is :mod:`mscl.pipeline.index`."""
from mscl.pipeline.index import main

if __name__ == "__main__":
    main()
