from pointbench.runner import main

main()
