// Owner of the LibTorch precompiled header shared by narrow's executables (tests, benchmarks,
// the program): executables are compiled -fPIE and cannot reuse the shared libraries' PCH.
int main() { return 0; }
