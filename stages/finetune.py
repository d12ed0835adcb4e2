"""Stage ``finetune`` as DVC runs it; the stage itself is :mod:`mscl.pipeline.finetune`."""
from mscl.pipeline.finetune import main

if __name__ == "__main__":
    main()
