"""dfd_lib: the deepfake forensic workbench library."""
__version__ = "0.1.0"
