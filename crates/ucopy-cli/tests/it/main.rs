mod cli_text;
