//! Synthetic ALB logs for fixtures, tests and benchmarks. (Contract stub: being implemented.)
