"""The ``aws`` profile: configuration, and the hooks/operators the Amazon provider lacks."""
