"""The pipeline's stages, each rule of the decision in one module, in the order an article meets them."""
