"""Bodies of the DAGs' tasks. The DAG files only wrap these functions and wire them."""
