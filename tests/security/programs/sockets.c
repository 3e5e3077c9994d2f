/* Sockets that reach past the box: raw IP, packet, and netlink (routing
 * and the audit log). Exit 42 if any of them reaches something. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int count_links(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct {
        struct nlmsghdr nh;
        struct rtgenmsg gen;
    } req = {{NLMSG_LENGTH(sizeof(struct rtgenmsg)), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0},
             {AF_PACKET}};
    if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
        return -1;
    int links = 0;
    char buf[1 << 15];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return -1;
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_type == NLMSG_DONE)
                return links;
            if (nh->nlmsg_type == RTM_NEWLINK)
                links++;
        }
    }
}

int main(void)
{
    int escaped = 0;
    int raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    printf("raw socket: %s\n", raw < 0 ? strerror(errno) : "OPENED");
    escaped |= raw >= 0;
    int packet = socket(AF_PACKET, SOCK_RAW, htons(0x0003));
    printf("packet socket: %s\n", packet < 0 ? strerror(errno) : "OPENED");
    escaped |= packet >= 0;
    int links = count_links();
    printf("network interfaces seen through netlink: %d\n", links);
    escaped |= links > 1;
    int audit = socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
    struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = AUDIT_NLGRP_READLOG};
    int bound = audit < 0 ? -1 : bind(audit, (struct sockaddr *)&addr, sizeof addr);
    printf("audit log subscription: %s\n", bound < 0 ? strerror(errno) : "BOUND");
    escaped |= bound == 0;
    return escaped ? 42 : 0;
}
