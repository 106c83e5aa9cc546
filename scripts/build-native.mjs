// Placeholder: the native addon build lands with the engine work.
process.exit(0);
