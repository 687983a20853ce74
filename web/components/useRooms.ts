"use client";
import { useEffect } from "react";
import { getFeed } from "@/lib/feed";

/** Join these Socket.IO rooms while the component is mounted. */
export function useRooms(rooms: string[]): void {
  const key = rooms.join(",");
  useEffect(() => {
    if (!key) return;
    return getFeed().subscribe(key.split(","));
  }, [key]);
}
