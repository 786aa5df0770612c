/* A course-style shm server (see shm.h): maps the existing shared file,
 * serves the ring with -n threads over a hash table with one mutex per
 * bucket (chaining, k % size), writes the value of a GET into its status
 * slot and then sets ready = 1 (like the course's, it writes nothing else). It creates FILE.ready once the file is mapped.
 *
 *   server [-n threads] [-s table size] [-F file] */
#include "shm.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct node { key_type k; value_type v; struct node *next; };
static struct node **buckets;
static pthread_mutex_t *locks;
static unsigned tsize = 1000;
static char *mem;
static size_t size;

static value_type get(key_type k)
{
	unsigned b = k % tsize;
	value_type v = 0;
	pthread_mutex_lock(&locks[b]);
	for (struct node *n = buckets[b]; n; n = n->next)
		if (n->k == k) { v = n->v; break; }
	pthread_mutex_unlock(&locks[b]);
	return v;
}

static void put(key_type k, value_type v)
{
	unsigned b = k % tsize;
	pthread_mutex_lock(&locks[b]);
	struct node *n;
	for (n = buckets[b]; n; n = n->next)
		if (n->k == k) { n->v = v; break; }
	if (!n) {
		n = malloc(sizeof *n);
		*n = (struct node){k, v, buckets[b]};
		buckets[b] = n;
	}
	pthread_mutex_unlock(&locks[b]);
}

static void *worker(void *arg)
{
	struct ring *r = arg;
	for (;;) {
		struct buffer_descriptor bd;
		ring_get(r, &bd);
		if (bd.res_off < (int)sizeof(struct ring) || (size_t)bd.res_off + sizeof bd > size)
			continue;
		if (bd.req_type == PUT) put(bd.k, bd.v);
		else bd.v = get(bd.k);
		/* Like the course's server: only the value (for a GET) and the
		 * ready flag are written; req_type, k and res_off of the slot
		 * keep whatever the client left there. */
		struct buffer_descriptor *res = (void *)(mem + bd.res_off);
		if (bd.req_type == GET)
			res->v = bd.v;
		__atomic_store_n(&res->ready, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = 1, opt;
	const char *file = "shmem_file";
	while ((opt = getopt(argc, argv, "n:s:F:")) != -1) {
		switch (opt) {
		case 'n': nthreads = atoi(optarg); break;
		case 's': tsize = atoi(optarg); break;
		case 'F': file = optarg; break;
		default:
			fprintf(stderr, "Usage: server [-n num_threads] [-s init_table_size]\n");
			return 2;
		}
	}
	int fd = open(file, O_RDWR);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) { perror(file); return 2; }
	size = sb.st_size;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) { perror("mmap"); return 2; }
	buckets = calloc(tsize, sizeof *buckets);
	locks = malloc(tsize * sizeof *locks);
	for (unsigned i = 0; i < tsize; i++)
		pthread_mutex_init(&locks[i], NULL);
	pthread_t th[nthreads];
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker, mem);
	char ready[4096];
	snprintf(ready, sizeof ready, "%s.ready", file);
	close(open(ready, O_CREAT | O_WRONLY, 0600));
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	return 0;
}
