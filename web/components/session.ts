"use client";
/** Who is logged in (zustand), checked once per page load. */
import { create } from "zustand";
import { isEmbedded, whoami, type User } from "@/lib/api";

interface Session {
  user: User | null;
  embedded: boolean;
  checked: boolean;
  check: () => Promise<void>;
  set: (user: User | null) => void;
}

export const useSession = create<Session>((set) => ({
  user: null,
  embedded: false,
  checked: false,
  async check() {
    const [user, embedded] = await Promise.all([whoami().catch(() => null), isEmbedded().catch(() => false)]);
    set({ user, embedded, checked: true });
  },
  set: (user) => set({ user, checked: true }),
}));
