fn main() -> std::process::ExitCode {
    fencebox::cli::main()
}
