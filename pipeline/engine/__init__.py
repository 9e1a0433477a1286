"""Engine: Beam runner options and job-server jars, worker logging and worker processes."""
