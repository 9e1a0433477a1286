"""The three Beam jobs, each runnable alone: curate, train_tokenizer, build."""
