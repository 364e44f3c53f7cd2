from districtbench.cli import main

main()
