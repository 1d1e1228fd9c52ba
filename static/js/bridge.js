// Wallet Standard bridge (filled in by the sign-in work).
