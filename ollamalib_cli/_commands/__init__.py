"""One module per command group; each ``add_<command>`` adds its parser and sets ``func``."""
