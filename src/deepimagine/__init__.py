"""DeepImagine: teach a language model to predict clinical-trial results by counterfactual imagining."""
__version__ = "0.1.0"
