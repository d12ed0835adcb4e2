"""Stage ``pretrain`` as DVC runs it; the stage itself is :mod:`mscl.pipeline.pretrain`."""
from mscl.pipeline.pretrain import main

if __name__ == "__main__":
    main()
