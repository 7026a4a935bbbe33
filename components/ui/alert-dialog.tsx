"use client";

import { AlertDialog as AD } from "radix-ui";
import type { ComponentProps } from "react";
import { cn } from "@/lib/utils";
import { buttonVariants } from "./button";

export const AlertDialog = AD.Root;
export const AlertDialogTrigger = AD.Trigger;

/** A modal that must be answered: focus is trapped and Escape cancels (Radix handles both). */
export function AlertDialogContent({ className, ...props }: ComponentProps<typeof AD.Content>) {
  return (
    <AD.Portal>
      <AD.Overlay className="fixed inset-0 z-50 bg-black/50" />
      <AD.Content
        className={cn(
          "fixed left-1/2 top-1/2 z-50 grid w-full max-w-md -translate-x-1/2 -translate-y-1/2 gap-4 rounded-xl border bg-background p-6 shadow-lg",
          className,
        )}
        {...props}
      />
    </AD.Portal>
  );
}

export const AlertDialogHeader = ({ className, ...props }: ComponentProps<"div">) => (
  <div className={cn("flex flex-col gap-2", className)} {...props} />
);
export const AlertDialogFooter = ({ className, ...props }: ComponentProps<"div">) => (
  <div className={cn("flex justify-end gap-2", className)} {...props} />
);
export const AlertDialogTitle = ({ className, ...props }: ComponentProps<typeof AD.Title>) => (
  <AD.Title className={cn("text-lg font-semibold", className)} {...props} />
);
export const AlertDialogDescription = ({
  className,
  ...props
}: ComponentProps<typeof AD.Description>) => (
  <AD.Description className={cn("text-sm text-muted-foreground", className)} {...props} />
);
export const AlertDialogAction = ({ className, ...props }: ComponentProps<typeof AD.Action>) => (
  <AD.Action className={cn(buttonVariants({ variant: "destructive" }), className)} {...props} />
);
export const AlertDialogCancel = ({ className, ...props }: ComponentProps<typeof AD.Cancel>) => (
  <AD.Cancel className={cn(buttonVariants({ variant: "outline" }), className)} {...props} />
);
