from pointbench.cli import main

main()
