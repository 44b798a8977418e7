"""The micro UniPixel toy: procedural scenes, a micro model that trains from scratch on a CPU, its evaluation."""
