"""Operations: the command line, the demo and reference data, the scheduled steps."""
