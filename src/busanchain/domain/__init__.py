"""Pure types, rules and errors. Imports nothing from the rest of busanchain."""
