// Library entry point; the pieces are exported as they land.
export {}
