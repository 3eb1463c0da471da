from zkreg.cli.main import main

main()
