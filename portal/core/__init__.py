"""Framework-free foundations: the database handle, time, money, working days, the vocabulary."""
