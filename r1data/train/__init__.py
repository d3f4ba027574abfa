"""Training on a built corpus: cold-start SFT, then GRPO with the corpus's rewards (TRL).

    from r1data.train import load_recipe, TrainRequest, run_training
    summary = run_training(TrainRequest(Path("out/scene30k"), load_recipe("scene30k"), Path("runs/s30k")))

The command line is ``r1data train OUT --recipe train/scene30k.yaml --output runs/NAME``;
docs/train.md describes recipes, resuming, LoRA and multi-GPU runs. Importing this package
is light: torch, transformers and TRL are imported when training starts.
"""

from r1data.train.recipe import LoadedRecipe, Recipe, load_recipe
from r1data.train.runner import TrainRequest, run_training

__all__ = ["LoadedRecipe", "Recipe", "TrainRequest", "load_recipe", "run_training"]
