from flowsense.cli import main

main()
