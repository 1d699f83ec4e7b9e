"""State shared by gateway replicas: the Redis connection with its timeout and circuit breaker."""
