//! The `save-order` Lambda: see the README function table for its input, output and errors.
