/*
 * Small filesystem helpers shared by commands.
 */
#ifndef CV_FSUTIL_H
#define CV_FSUTIL_H

/* Remove a tree (files first), not following links. Best effort. */
void rm_tree(const char *path);

/* Remove every entry of dir whose name starts with prefix (trees too). */
void rm_prefixed(const char *dir, const char *prefix);

/* fsync a directory; 0 or -1. */
int sync_dir(const char *path);

#endif
