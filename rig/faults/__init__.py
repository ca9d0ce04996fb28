"""Fault injectors, one file per family; ``registry.INJECTORS`` maps each timeline kind to its injector."""
