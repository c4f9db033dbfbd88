"""`dt serve`: a web page and JSON API to watch and steer a running tracker (optional extra [web])."""
