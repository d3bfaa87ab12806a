from newsmirror.cli import main

main()
